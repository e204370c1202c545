"""The one exception type that means "the user's input is wrong" (exit code 2, one line)."""


class CfgtrackError(Exception):
    """A usage or input error: the CLI prints its message as one line and exits with code 2.

    The message should name the file or key at fault and say what to do about it.
    """

    exit_code = 2

    def __init__(self, message: object = "", *args: object) -> None:
        # messages name URIs, values and command output: what looks secret never shows
        from cfgtrack.redact.messages import mask_message

        super().__init__(mask_message(message), *args)
