"""OpenVINO IR files (``.xml`` with its ``.bin``): their names checked before any work, and
both written atomically. Shared by the int8 quantiser and the fp16 IR export; imports nothing
heavier than the file helpers.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..io.files import atomic_output, check_output_path


def check_ir_output(output: str | os.PathLike, overwrite: bool = False) -> Path:
    """``output`` as the ``.xml`` of an OpenVINO IR, checked with its ``.bin`` before any work:
    :class:`InputError` for another suffix, or an existing file without ``overwrite``."""
    out = Path(output)
    if out.suffix.lower() != ".xml":
        raise InputError(f"{out}: an int8 graph is written as OpenVINO IR; name it MODEL.xml (weights in MODEL.bin)")
    for path in (out, out.with_suffix(".bin")):
        check_output_path(path, overwrite=overwrite)
    return out


def save_ir(ov, model, out: Path, compress_to_fp16: bool = False) -> None:
    """Write ``out`` (.xml) and its .bin atomically (:func:`~ifrnet.io.files.atomic_output`), the
    .bin published first: a reader never finds an .xml whose weights are missing or half written."""
    # the inner block is published first
    with atomic_output(out) as xml_tmp, atomic_output(out.with_suffix(".bin")) as bin_tmp:
        written = xml_tmp.with_suffix(".bin")  # OpenVINO names the weights after the .xml it writes
        try:
            ov.save_model(model, str(xml_tmp), compress_to_fp16=compress_to_fp16)
            os.replace(written, bin_tmp)
        finally:
            written.unlink(missing_ok=True)
