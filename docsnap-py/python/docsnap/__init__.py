"""Turn photos and scans of documents and forms into structured data.

``Engine`` runs OCR and extraction in this process; ``Client`` talks to a
docsnap or DocuSnap server. Results are plain dicts in the protocol's JSON
shape, and failures raise a ``DocsnapError`` subclass whose ``code`` is the
protocol error code.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, List, Mapping, Optional, TypeVar, overload

from docsnap import _docsnap
from docsnap._docsnap import (
    AesDecryptionFailed,
    Client,
    DatabaseError,
    DocPromptConstructionFailed,
    DocsnapError,
    FillPromptConstructionFailed,
    FormPromptConstructionFailed,
    InvalidConfig,
    InvalidImage,
    InvalidJson,
    InvalidRequest,
    InvalidType,
    LlmError,
    MissingContent,
    MissingRequiredField,
    OcrError,
    OpenAICompatible,
    PayloadTooLarge,
    ProcessingError,
    ProcessingTimeout,
    RsaDecryptionFailed,
    Sha256Mismatch,
    Task,
    TaskNotFound,
    TooManyPages,
    Zhipu,
    __version__,
)

if TYPE_CHECKING:
    from docsnap._docsnap import _Image, _Images, _PageList

__all__ = [
    "AesDecryptionFailed",
    "Client",
    "DatabaseError",
    "DocPromptConstructionFailed",
    "DocsnapError",
    "Engine",
    "FillPromptConstructionFailed",
    "FormPromptConstructionFailed",
    "InvalidConfig",
    "InvalidImage",
    "InvalidJson",
    "InvalidRequest",
    "InvalidType",
    "LlmError",
    "MissingContent",
    "MissingRequiredField",
    "OcrError",
    "OpenAICompatible",
    "PayloadTooLarge",
    "ProcessingError",
    "ProcessingTimeout",
    "RsaDecryptionFailed",
    "Sha256Mismatch",
    "Task",
    "TaskNotFound",
    "TooManyPages",
    "Zhipu",
    "__version__",
]


_Result = TypeVar("_Result")


async def _in_thread(function: Callable[..., _Result], /, *args: Any, **kwargs: Any) -> _Result:
    """Run a blocking engine call in a worker thread, and stop it when the
    awaiting task is cancelled, so that asyncio.run() need not wait for it."""
    cancellation = _docsnap._Cancellation()
    try:
        return await asyncio.to_thread(cancellation.run, function, *args, **kwargs)
    except asyncio.CancelledError:
        cancellation.cancel()
        raise


class Engine(_docsnap.Engine):
    """The document engine: OCR, extraction and validation in this process.

    Without ``llm`` the offline rule extractor is used. Every call releases
    the GIL, so threads run in parallel. The ``a``-prefixed methods run the
    same calls in a worker thread for use from asyncio, and cancelling the
    awaiting task stops the call.
    """

    @overload
    async def aocr(self, images: _PageList) -> List[dict[str, Any]]: ...
    @overload
    async def aocr(self, images: _Image) -> dict[str, Any]: ...

    async def aocr(self, images: _Images) -> Any:
        """Recognise text like ``ocr`` without blocking the event loop."""
        return await _in_thread(self.ocr, images)

    async def aprocess_document(
        self,
        images: _Images,
        file_lib: Optional[Mapping[str, Any]] = None,
        *,
        provenance: bool = False,
    ) -> dict[str, Any]:
        """Read a document like ``process_document`` without blocking the event loop."""
        return await _in_thread(
            self.process_document, images, file_lib, provenance=provenance
        )

    async def aprocess_form(
        self,
        images: _Images,
        file_lib: Optional[Mapping[str, Any]] = None,
        *,
        provenance: bool = False,
    ) -> dict[str, Any]:
        """Read a form like ``process_form`` without blocking the event loop."""
        return await _in_thread(
            self.process_form, images, file_lib, provenance=provenance
        )

    async def afill_form(
        self,
        form: Mapping[str, Any],
        file_lib: Mapping[str, Any],
        *,
        provenance: bool = False,
    ) -> dict[str, Any]:
        """Fill a form like ``fill_form`` without blocking the event loop."""
        return await _in_thread(
            self.fill_form, form, file_lib, provenance=provenance
        )
