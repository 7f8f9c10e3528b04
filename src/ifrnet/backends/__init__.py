"""Inference engines other than eager PyTorch. Each module here imports only what it runs on."""
