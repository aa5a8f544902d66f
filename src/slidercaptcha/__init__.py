"""slidercaptcha: find the gap and the slider of a slider captcha."""

__version__ = "0.1.0"
