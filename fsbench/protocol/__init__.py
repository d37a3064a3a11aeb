"""Who trains and who is tested: signer splits, episodes and the --dev split, all seeded and hashed."""
