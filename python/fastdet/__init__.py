"""fastdet."""
