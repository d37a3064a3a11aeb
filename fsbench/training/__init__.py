"""What trains models: the one loop (loop.py) with its optimisers (optim.py) and lr schedules
(schedule.py), and the trained-model cache (cache.py)."""
