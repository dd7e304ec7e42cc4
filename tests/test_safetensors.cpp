// filled in by the safetensors work
