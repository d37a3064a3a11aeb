"""Taking a fitted method out of the benchmark: ONNX export."""
