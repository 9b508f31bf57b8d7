"""convref's airspeed velocity suite: one module per area of ops/ and engine/, plus compare.py."""
