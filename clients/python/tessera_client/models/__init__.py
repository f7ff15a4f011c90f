"""Contains all the data models used in inputs/outputs"""

from .application_out import ApplicationOut
from .batch import Batch
from .batch_accepted import BatchAccepted
from .batch_item import BatchItem
from .batch_item_type import BatchItemType
from .batch_request import BatchRequest
from .batch_results import BatchResults
from .check import Check
from .checks import Checks
from .delivery import Delivery
from .delivery_page import DeliveryPage
from .delivery_status import DeliveryStatus
from .denial_code import DenialCode
from .durability import Durability
from .durability_mode import DurabilityMode
from .event import Event
from .event_admission import EventAdmission
from .event_create import EventCreate
from .event_create_admission import EventCreateAdmission
from .event_create_opening import EventCreateOpening
from .event_create_promotion import EventCreatePromotion
from .event_create_waitlist_policy import EventCreateWaitlistPolicy
from .event_opening import EventOpening
from .event_page import EventPage
from .event_promotion import EventPromotion
from .event_registration import EventRegistration
from .event_update import EventUpdate
from .event_update_admission import EventUpdateAdmission
from .event_update_opening import EventUpdateOpening
from .event_update_promotion import EventUpdatePromotion
from .event_update_waitlist_policy import EventUpdateWaitlistPolicy
from .event_waitlist_policy import EventWaitlistPolicy
from .get_open_api_document_response_200 import GetOpenApiDocumentResponse200
from .health import Health
from .health_status import HealthStatus
from .key import Key
from .key_create import KeyCreate
from .key_create_role import KeyCreateRole
from .key_created import KeyCreated
from .key_created_role import KeyCreatedRole
from .key_list import KeyList
from .key_role import KeyRole
from .ledger_entry import LedgerEntry
from .ledger_entry_kind import LedgerEntryKind
from .ledger_entry_outcome import LedgerEntryOutcome
from .ledger_entry_type_type_0 import LedgerEntryTypeType0
from .ledger_page import LedgerPage
from .liveness import Liveness
from .liveness_status import LivenessStatus
from .offer_made import OfferMade
from .offer_out import OfferOut
from .offer_reply import OfferReply
from .offered_status import OfferedStatus
from .prequeued_status import PrequeuedStatus
from .problem import Problem
from .problem_code import ProblemCode
from .problem_field import ProblemField
from .register_request import RegisterRequest
from .registration_status import RegistrationStatus
from .registration_status_status import RegistrationStatusStatus
from .result_status import ResultStatus
from .ticket import Ticket
from .ticket_page import TicketPage
from .ticket_result import TicketResult
from .ticket_status import TicketStatus
from .ticket_type import TicketType
from .user import User
from .user_create import UserCreate
from .user_registration import UserRegistration
from .user_update import UserUpdate
from .user_waitlisting import UserWaitlisting
from .waitlist_entry import WaitlistEntry
from .webhook import Webhook
from .webhook_create import WebhookCreate
from .webhook_create_events_item import WebhookCreateEventsItem
from .webhook_created import WebhookCreated
from .webhook_list import WebhookList

__all__ = (
    "ApplicationOut",
    "Batch",
    "BatchAccepted",
    "BatchItem",
    "BatchItemType",
    "BatchRequest",
    "BatchResults",
    "Check",
    "Checks",
    "Delivery",
    "DeliveryPage",
    "DeliveryStatus",
    "DenialCode",
    "Durability",
    "DurabilityMode",
    "Event",
    "EventAdmission",
    "EventCreate",
    "EventCreateAdmission",
    "EventCreateOpening",
    "EventCreatePromotion",
    "EventCreateWaitlistPolicy",
    "EventOpening",
    "EventPage",
    "EventPromotion",
    "EventRegistration",
    "EventUpdate",
    "EventUpdateAdmission",
    "EventUpdateOpening",
    "EventUpdatePromotion",
    "EventUpdateWaitlistPolicy",
    "EventWaitlistPolicy",
    "GetOpenApiDocumentResponse200",
    "Health",
    "HealthStatus",
    "Key",
    "KeyCreate",
    "KeyCreated",
    "KeyCreatedRole",
    "KeyCreateRole",
    "KeyList",
    "KeyRole",
    "LedgerEntry",
    "LedgerEntryKind",
    "LedgerEntryOutcome",
    "LedgerEntryTypeType0",
    "LedgerPage",
    "Liveness",
    "LivenessStatus",
    "OfferedStatus",
    "OfferMade",
    "OfferOut",
    "OfferReply",
    "PrequeuedStatus",
    "Problem",
    "ProblemCode",
    "ProblemField",
    "RegisterRequest",
    "RegistrationStatus",
    "RegistrationStatusStatus",
    "ResultStatus",
    "Ticket",
    "TicketPage",
    "TicketResult",
    "TicketStatus",
    "TicketType",
    "User",
    "UserCreate",
    "UserRegistration",
    "UserUpdate",
    "UserWaitlisting",
    "WaitlistEntry",
    "Webhook",
    "WebhookCreate",
    "WebhookCreated",
    "WebhookCreateEventsItem",
    "WebhookList",
)
