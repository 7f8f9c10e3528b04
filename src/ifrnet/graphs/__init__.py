"""Exported graphs: writing them (:mod:`.export`, torch), the metadata they carry
(:mod:`.metadata`, torch-free), other runtimes' layouts (:mod:`.layouts`, onnx only) and int8
quantisation (:mod:`.int8`, NNCF and OpenVINO). The engines that run a graph are in
``ifrnet.backends``."""
