"""convref's graph executor and user API (autograd over the ops in `ops`)."""
