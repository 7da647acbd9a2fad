"""Rule-based and session-popularity models (session-rec's SR and S-POP)."""

from sessrec.models.rules.spop import SessionPop
from sessrec.models.rules.sr import SequentialRules

__all__ = ["SequentialRules", "SessionPop"]
