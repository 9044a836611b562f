"""A claimed subspace for patching (``intervention.subspace``): patch only the part of the clean -
corrupt difference that lies in the span of given directions (e.g. a DAS rotation's first k rows,
found elsewhere), as causalab's and Geiger et al.'s distributed interventions do.

The file is read like a steering direction file (interventions/directions.py: .safetensors, .pt,
.npy, .npz; nothing unpickled): a ``[k, d]`` tensor whose rows span the subspace, or ``[d]`` (one
direction); ``d`` must be the patched site's width. The rows need not be orthonormal: the basis is
their QR, and rows that are linearly dependent are an error. Its sha256 joins the evidence and every
unit key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field

from audit.spec import StrictModel


class ClaimedSubspace(StrictModel):
    path: str = Field(min_length=1, description="basis file, relative to the claim file (.safetensors, .pt/.pth, "
                                                ".npy, .npz): a [k, d] tensor whose rows span the subspace, or [d]")
    key: Optional[str] = Field(None, description="the tensor to use when the file holds several")

    def claim_problems(self, lc, spec) -> list[tuple[tuple, str, str]]:
        """The file must exist with a known suffix, and the claim must patch one component (a
        subspace belongs to one site)."""
        from interventions.directions import suffix_problem

        out = []
        problem = suffix_problem(self.path)
        path = lc.path.parent / self.path
        if problem:
            out.append((("intervention", "subspace", "path"), problem.replace("direction file", "subspace file"), ""))
        elif not path.is_file():
            out.append((("intervention", "subspace", "path"), f"subspace file {path} not found",
                        "the path is relative to the claim file"))
        several = [f for f, v in (("layers", spec.layers), ("positions", spec.positions)) +
                   ((("heads", spec.heads),) if spec.target == "head" else ()) if v == "all" or len(v) != 1]
        if several:
            out.append((("intervention", several[0]), "a claimed subspace belongs to one site: patch one component",
                        f"list exactly one entry under {', '.join(several)}"))
        return out


class SubspaceFileError(ValueError):
    """A subspace basis file that cannot be used: one line naming the file, what was found and a hint."""

    def __init__(self, path, message: str, hint: str = ""):
        super().__init__(f"subspace file {path}: {message}" + (f" ({hint})" if hint else ""))


def load_basis(path: Path, key: Optional[str], width: int):
    """``(Q [width, k] orthonormal, record)`` of the subspace the file's rows span."""
    from interventions.directions import DirectionFileError, sha256_of

    try:
        rows = _rows(path, key)
    except DirectionFileError as exc:  # the shared reader's message, named for what the file is here
        raise SubspaceFileError(path, str(exc).split(": ", 1)[-1]) from None
    return _orthonormal(path, rows, width), {"path": str(path), "sha256": sha256_of(path), "dim": int(rows.shape[0]),
                                             "width": width}


def _rows(path: Path, key: Optional[str]):
    from interventions.directions import as_float, read_raw

    tensors = {str(k): v for k, v in read_raw(path).tensors.items()}
    if key is None and len(tensors) > 1:
        raise SubspaceFileError(path, f"several tensors {sorted(tensors)}", "set intervention.subspace.key to the basis")
    if key is not None and key not in tensors:
        raise SubspaceFileError(path, f"no tensor '{key}'; keys: {sorted(tensors)}",
                                "set intervention.subspace.key to one of them")
    rows = as_float(path, tensors[key] if key is not None else next(iter(tensors.values())))
    return rows[None] if rows.dim() == 1 else rows


def _orthonormal(path: Path, rows, width: int):
    import torch

    if rows.dim() != 2 or rows.shape[1] != width:
        raise SubspaceFileError(path, f"basis of shape {tuple(rows.shape)}; the patched site is {width} wide",
                                f"expected [k, {width}] rows (or [{width}])")
    k = rows.shape[0]
    if k >= width:
        raise SubspaceFileError(path, f"{k} rows span the whole {width}-wide site: that is the whole component's "
                                      "patch", "drop the subspace to patch the component, or give fewer rows")
    if not torch.isfinite(rows).all():
        raise SubspaceFileError(path, "the basis holds NaN or infinite values")
    q, r = torch.linalg.qr(rows.T)
    diag = torch.diagonal(r).abs()
    if not bool((diag > 1e-6 * max(float(diag.max()), 1e-30)).all()):
        raise SubspaceFileError(path, f"the {k} rows are linearly dependent (rank < {k})",
                                "give linearly independent rows")
    return q.contiguous()
