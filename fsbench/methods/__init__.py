"""Built-in methods that need no training: the floors every leaderboard shows."""
