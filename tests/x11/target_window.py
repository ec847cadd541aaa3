"""A real X client that logs every key and button it receives, as JSON lines on stdout.

Run as ``python -m tests.x11.target_window`` with DISPLAY set. It maps one window over
the whole screen, gives it the core keyboard focus, selects XI2 key and button events
for all master devices (so every logged event names its ``sourceid``: the slave device
it came from) and prints ``{"ready": true}`` once mapped. Each event line carries the
X server timestamp, the XI2 event type, detail (keycode/button), root position and the
keysym the window itself resolves (refreshing its keymap on MappingNotify, as every
toolkit does).
"""

from __future__ import annotations

import json
import sys

from Xlib import X, display
from Xlib.ext import xinput

NAMES = {
    xinput.KeyPress: "key_press",
    xinput.KeyRelease: "key_release",
    xinput.ButtonPress: "button_press",
    xinput.ButtonRelease: "button_release",
}


def main() -> None:
    d = display.Display()
    screen = d.screen()
    w, h = screen.width_in_pixels, screen.height_in_pixels
    win = screen.root.create_window(
        0, 0, w, h, 0, screen.root_depth,
        X.InputOutput, X.CopyFromParent,
        background_pixel=screen.white_pixel,
        override_redirect=True,
        event_mask=X.StructureNotifyMask | X.ExposureMask,
    )  # fmt: skip
    win.set_wm_name("driverseat-target")
    win.xinput_select_events(
        [
            (
                xinput.AllMasterDevices,
                xinput.KeyPressMask
                | xinput.KeyReleaseMask
                | xinput.ButtonPressMask
                | xinput.ButtonReleaseMask,
            )
        ]
    )
    win.map()
    out = sys.stdout
    while True:
        ev = d.next_event()
        if ev.type == X.MapNotify:
            win.set_input_focus(X.RevertToParent, X.CurrentTime)
            d.sync()
            out.write(json.dumps({"ready": True, "window": win.id, "size": [w, h]}) + "\n")
            out.flush()
        elif ev.type == X.MappingNotify:
            d.refresh_keyboard_mapping(ev)
        elif ev.type == d.extension_event.GenericEvent and ev.evtype in NAMES:
            data = ev.data
            line: dict[str, object] = {
                "type": NAMES[ev.evtype],
                "time": data.time,
                "detail": data.detail,
                "sourceid": data.sourceid,
                "deviceid": data.deviceid,
                "x": int(data.root_x),
                "y": int(data.root_y),
            }
            if ev.evtype in (xinput.KeyPress, xinput.KeyRelease):
                shift = bool(data.mods.effective_mods & X.ShiftMask)
                ks = d.keycode_to_keysym(data.detail, 1 if shift else 0)
                if ks == 0 and shift:
                    ks = d.keycode_to_keysym(data.detail, 0)
                line["keysym"] = ks
            out.write(json.dumps(line) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
