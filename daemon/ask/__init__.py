"""Questions the agent asks the person (issue 10): the desk that keeps them, what an
answer means to the agent, a takeover's actions, and the ask tool in each dialect."""
