"""/v1/documents: upload, list, read and delete documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from starlette.datastructures import UploadFile

from veritas_common import schemas
from veritas_gateway.auth import CallerDep, require_caller
from veritas_gateway.dependencies import ServiceDep
from veritas_gateway.errors import ERROR_RESPONSES
from veritas_gateway.serving import Upload

router = APIRouter(
    prefix="/v1/documents",
    tags=["documents"],
    dependencies=[Depends(require_caller)],
    responses=ERROR_RESPONSES,
)

MAX_FILES_PER_UPLOAD = 256
FORM_FIELDS = {"file", "collection"}

# The body is parsed by hand (after authentication, under the body limit), so its schema is
# declared here for the OpenAPI docs.
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files (repeat the field).",
                        },
                        "collection": {
                            "type": "string",
                            "description": "Collection to add the files to (default 'default').",
                        },
                    },
                }
            }
        },
    }
}

DocId = Annotated[str, Path(min_length=1, max_length=200)]


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def _source_name(filename: str) -> str:
    # Browsers send a bare name, other clients may send a path: the source is the name.
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()


@router.post("", response_model=schemas.UploadResponse, openapi_extra=_UPLOAD_BODY)
async def upload_documents(request: Request, caller: CallerDep, service: ServiceDep) -> Any:
    """Parses, chunks and indexes the uploaded files; one entry per file, in order. Re-uploading
    the same bytes is a no-op (`status: unchanged`). A file that cannot be parsed fails the
    request with 400 naming it."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "expected multipart/form-data with one or more 'file' fields",
        )
    async with request.form(max_files=MAX_FILES_PER_UPLOAD, max_fields=8) as form:
        unknown = sorted(set(form.keys()) - FORM_FIELDS)
        if unknown:
            raise _unprocessable(f"unknown form field(s): {', '.join(unknown)}")
        collection = form.get("collection", "")
        if not isinstance(collection, str):
            raise _unprocessable("form field 'collection' must be text, not a file")
        uploads = []
        for item in form.getlist("file"):
            if not isinstance(item, UploadFile):
                raise _unprocessable("form field 'file' must be a file, not text")
            source = _source_name(item.filename or "")
            if not source:
                raise _unprocessable("every uploaded file needs a file name")
            mime = item.content_type or ""
            uploads.append(Upload(source, "" if mime == "application/octet-stream" else mime, item))
        if not uploads:
            raise _unprocessable("no file uploaded: send one or more 'file' form fields")
        return await service.ingest(uploads, collection.strip(), caller)


@router.get("", response_model=schemas.DocumentList)
async def list_documents(
    caller: CallerDep,
    service: ServiceDep,
    collection: Annotated[str, Query(description="Only this collection; all when empty.")] = "",
) -> Any:
    """Documents of the caller's tenant, newest first, without their text."""
    return await service.list_documents(collection, caller)


@router.get("/{doc_id}", response_model=schemas.Document)
async def get_document(doc_id: DocId, caller: CallerDep, service: ServiceDep) -> Any:
    """One document with its normalised text: every evidence `quote` equals
    `text[char_start:char_end]`."""
    return await service.get_document(doc_id, caller)


@router.delete("/{doc_id}", response_model=schemas.DeletedDocument)
async def delete_document(doc_id: DocId, caller: CallerDep, service: ServiceDep) -> Any:
    """Removes a document and its chunks from the index."""
    return await service.delete_document(doc_id, caller)
