"""Users: the account rows and their lookups, beneath every feature (auth holds the flows)."""
