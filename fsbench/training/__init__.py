"""What trains models: the one SGD loop, its lr schedule, and the trained-model cache."""
