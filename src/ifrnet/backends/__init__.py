"""The engines: PyTorch (:mod:`.torch`) and those over an exported graph (:mod:`.onnx`, :mod:`.openvino`,
sharing :mod:`.graph`). Each module imports only what it runs on; :mod:`ifrnet.spec` picks one."""
