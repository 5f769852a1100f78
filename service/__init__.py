"""The HTTP service over published builds."""
