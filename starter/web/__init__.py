"""Public web pages of Tradelane (the parcel tracking page), rendered as self-contained HTML."""
