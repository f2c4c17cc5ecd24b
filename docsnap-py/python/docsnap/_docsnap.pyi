"""Type stubs of the native half of ``docsnap``; import ``docsnap`` instead."""

import os
from typing import Any, Callable, List, Mapping, Optional, Protocol, Tuple, TypeVar, Union, overload

from typing_extensions import disjoint_base, final

__all__ = [
    "__version__",
    "DocsnapError",
    "InvalidRequest",
    "MissingRequiredField",
    "InvalidType",
    "MissingContent",
    "TaskNotFound",
    "Sha256Mismatch",
    "RsaDecryptionFailed",
    "AesDecryptionFailed",
    "InvalidJson",
    "PayloadTooLarge",
    "InvalidImage",
    "TooManyPages",
    "DatabaseError",
    "OcrError",
    "LlmError",
    "DocPromptConstructionFailed",
    "FormPromptConstructionFailed",
    "FillPromptConstructionFailed",
    "ProcessingError",
    "ProcessingTimeout",
    "InvalidConfig",
    "_error_codes",
    "_serve_ocr",
    "_Cancellation",
    "Client",
    "Task",
    "Engine",
    "OpenAICompatible",
    "Zhipu",
]

__version__: str

_T = TypeVar("_T")

class _BinaryReader(Protocol):
    def read(self) -> bytes: ...

_Image = Union[bytes, bytearray, memoryview, str, os.PathLike[str], _BinaryReader]
_PageList = Union[List[_Image], Tuple[_Image, ...]]
_Images = Union[_Image, _PageList]

class DocsnapError(Exception):
    """Base class of every docsnap error; ``code`` is the protocol error code."""

    code: Optional[str]

class InvalidRequest(DocsnapError):
    code: str

class MissingRequiredField(DocsnapError):
    code: str

class InvalidType(DocsnapError):
    code: str

class MissingContent(DocsnapError):
    code: str

class TaskNotFound(DocsnapError):
    code: str

class Sha256Mismatch(DocsnapError):
    code: str

class RsaDecryptionFailed(DocsnapError):
    code: str

class AesDecryptionFailed(DocsnapError):
    code: str

class InvalidJson(DocsnapError):
    code: str

class PayloadTooLarge(DocsnapError):
    code: str

class InvalidImage(DocsnapError):
    code: str

class TooManyPages(DocsnapError):
    code: str

class DatabaseError(DocsnapError):
    code: str

class OcrError(DocsnapError):
    code: str

class LlmError(DocsnapError):
    code: str

class DocPromptConstructionFailed(DocsnapError):
    code: str

class FormPromptConstructionFailed(DocsnapError):
    code: str

class FillPromptConstructionFailed(DocsnapError):
    code: str

class ProcessingError(DocsnapError):
    code: str

class ProcessingTimeout(DocsnapError):
    code: str

class InvalidConfig(DocsnapError):
    code: str

def _error_codes() -> List[str]: ...
def _serve_ocr() -> None: ...

@final
class _Cancellation:
    def __new__(cls) -> _Cancellation: ...
    def run(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T: ...
    def cancel(self) -> None: ...

@final
class OpenAICompatible:
    """Settings of an OpenAI-compatible chat-completions server."""

    def __new__(
        cls,
        base_url: str,
        model: str,
        api_key: Optional[str] = None,
        *,
        timeout: float = 120.0,
        json_mode: bool = True,
        max_prompt_chars: int = ...,
    ) -> OpenAICompatible: ...
    @property
    def base_url(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def max_prompt_chars(self) -> int: ...
    def __getnewargs_ex__(self) -> Tuple[Tuple[Any, ...], dict[str, Any]]: ...

@final
class Zhipu:
    """Settings of Zhipu's GLM API."""

    def __new__(
        cls,
        api_key: str,
        model: str = "glm-4-plus",
        *,
        timeout: float = 120.0,
        max_prompt_chars: int = ...,
    ) -> Zhipu: ...
    @property
    def base_url(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def max_prompt_chars(self) -> int: ...
    def __getnewargs_ex__(self) -> Tuple[Tuple[Any, ...], dict[str, Any]]: ...

@disjoint_base
class Engine:
    """The document engine: OCR, extraction and validation in this process."""

    def __new__(
        cls,
        llm: Union[OpenAICompatible, Zhipu, None] = None,
        db_path: Union[str, os.PathLike[str], None] = None,
        *,
        cache_max_age: Optional[float] = None,
    ) -> Engine: ...
    @overload
    def ocr(self, images: _PageList) -> List[dict[str, Any]]: ...
    @overload
    def ocr(self, images: _Image) -> dict[str, Any]: ...
    def process_document(
        self,
        images: _Images,
        file_lib: Optional[Mapping[str, Any]] = None,
        *,
        provenance: bool = False,
    ) -> dict[str, Any]: ...
    def process_form(
        self,
        images: _Images,
        file_lib: Optional[Mapping[str, Any]] = None,
        *,
        provenance: bool = False,
    ) -> dict[str, Any]: ...
    def fill_form(
        self,
        form: Mapping[str, Any],
        file_lib: Mapping[str, Any],
        *,
        provenance: bool = False,
    ) -> dict[str, Any]: ...
    @property
    def llm(self) -> Union[OpenAICompatible, Zhipu, None]: ...
    @property
    def extractor(self) -> str: ...
    @property
    def db_path(self) -> Optional[str]: ...
    def cache_info(self) -> Optional[dict[str, Any]]: ...
    def clear_cache(self) -> int: ...
    def __getnewargs_ex__(self) -> Tuple[Tuple[Any, ...], dict[str, Any]]: ...

@final
class Task:
    """A submitted task: its identity and the AES key that opens its result."""

    @property
    def client_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def cipher(self) -> str: ...

@final
class Client:
    """A client of a docsnap or DocuSnap server."""

    def __new__(
        cls,
        url: str,
        public_key_pem: Optional[str] = None,
        client_id: Optional[str] = None,
        cipher: str = "A256GCM",
        *,
        token: Optional[str] = None,
    ) -> Client: ...
    @property
    def url(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def public_key_pem(self) -> str: ...
    @property
    def cipher(self) -> str: ...
    def submit(
        self,
        kind: str,
        images: Optional[_Images] = None,
        form: Optional[Mapping[str, Any]] = None,
        file_lib: Optional[Mapping[str, Any]] = None,
    ) -> Task: ...
    def poll(self, task: Task) -> Optional[dict[str, Any]]: ...
    def clear(self, task: Optional[Task] = None) -> int: ...
    def process(
        self,
        kind: str,
        images: Optional[_Images] = None,
        form: Optional[Mapping[str, Any]] = None,
        file_lib: Optional[Mapping[str, Any]] = None,
        timeout: float = 120.0,
    ) -> dict[str, Any]: ...
