"""The readiness report (`driverseat report`): figures from the store, one HTML page."""
