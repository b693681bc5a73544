"""在线帮办 benchmark: citizen message to helper screen with many simultaneous handoffs."""
