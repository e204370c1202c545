"""One library function per CLI verb, each with explicit arguments and a result object.

A verb function computes and returns; it prints nothing. Its result carries the verb's
``exit_code`` (0 nothing to report, 1 findings), and bad input raises ``CfgtrackError`` (exit 2).
``cfgtrack.cli`` parses options, calls exactly one of these, renders the result and exits, so
anything the command line can do, Python can do the same way.
"""
