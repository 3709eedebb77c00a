from milkio_gen import FailCodes

fail_codes = FailCodes()


@fail_codes.code("2FA_REQUIRED")
def two_factor_required(data: None) -> str:
    return "A second factor is required"
