from core.errors import DomainError


class LaterError(DomainError):
    status = 418
    code = "later_code"
    message = "An app merged after this test was written."
