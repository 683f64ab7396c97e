"""Merchant profiles: `GET/PUT /v1/merchants/{merchant_id}/profile`.

A merchant's backend key reads and sets its own profile; another merchant's answers 404, as a missing one does, so
ids do not leak. Ops read any profile (they do not set them: the shop's name and numbers are the merchant's to
state). What the profile is used for: `infra/persistence/merchants.py`.
"""

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlmodel import Session

from infra.persistence.merchants import MerchantProfileRow, get_profile, save_profile
from starter.auth import Backend, Caller, Reader
from starter.deps import EngineDep
from starter.errors import ApiError

router = APIRouter(tags=["merchants"])

MerchantId = Annotated[str, Path(max_length=64, description="The merchant's id, as in shipment requests.")]


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be printable text: no control, format or line-separator characters")
    return value


def _https(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"must be an https URL (https://host/...), not {value[:60]!r}")
    if not value.isprintable() or " " in value:
        raise ValueError("must be a URL without spaces or control characters")
    return value


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise ValueError(f"not an e-mail address: {err}") from None


DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
                        AfterValidator(_printable)]
HttpsUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_https)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)]


class MerchantProfile(BaseModel):
    """A merchant's profile as its backend sets it (`PUT` replaces it whole)."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName
    """The shop's name as its customers know it: in e-mails, on the tracking page and the invoice's seller block."""
    support_email: Email | None = None
    """Where customers write about an order; shown in the footer of their e-mails."""
    support_url: HttpsUrl | None = None
    """A help page, shown when there is no support e-mail."""
    logo_url: HttpsUrl | None = None
    ioss_number: Annotated[str | None, Field(pattern=r"^IM\d{10}$", description="EU IOSS number: IM + 10 digits")] \
        = None
    eori_number: Annotated[str | None, Field(pattern=r"^[A-Z]{2}[A-Z0-9]{1,15}$",
                                             description="EORI: country code + up to 15 letters or digits")] = None
    vat_number: Annotated[str | None, Field(pattern=r"^[A-Z0-9]{4,20}$",
                                            description="VAT/GST registration: 4-20 capital letters or digits")] \
        = None


class MerchantProfileView(MerchantProfile):
    merchant_id: str
    updated_at: datetime


def _view(row: MerchantProfileRow) -> MerchantProfileView:
    return MerchantProfileView.model_validate(row.model_dump())


def _not_found(merchant_id: str) -> ApiError:
    return ApiError(404, "MERCHANT_PROFILE_NOT_FOUND",
                    f"no profile for merchant {merchant_id}; its backend key sets one with PUT")


def _own(caller: Caller, merchant_id: str) -> None:
    if not caller.sees(merchant_id):  # another merchant's profile answers as a missing one
        raise _not_found(merchant_id)


@router.get("/v1/merchants/{merchant_id}/profile", summary="Read a merchant's profile",
            response_model=MerchantProfileView)
def read_profile(merchant_id: MerchantId, engine: EngineDep, caller: Reader) -> MerchantProfileView:
    """The merchant's profile: a backend reads its own merchants', ops any (404 when there is none)."""
    _own(caller, merchant_id)
    with Session(engine) as session:
        row = get_profile(session, merchant_id)
        if row is None:
            raise _not_found(merchant_id)
        return _view(row)


@router.put("/v1/merchants/{merchant_id}/profile", summary="Set a merchant's profile",
            response_model=MerchantProfileView)
def set_profile(merchant_id: MerchantId, body: MerchantProfile, engine: EngineDep,
                caller: Backend) -> MerchantProfileView:
    """Set the merchant's profile (a backend, for its own merchants; 422 naming the field it refuses)."""
    _own(caller, merchant_id)
    with Session(engine) as session:
        row = save_profile(session, merchant_id, body.model_dump())
        session.commit()
        session.refresh(row)
        return _view(row)
