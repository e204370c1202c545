"""Secrets of the forms real projects hold, for the redaction tests: each with the part that must
never be found in anything cfgtrack writes (8 characters or more, so a scan of binary files
finds no false leak) and a part that must stay readable."""

from __future__ import annotations

# (text holding a secret, the secret part that must not survive, text that must stay)
IN_TEXT = [
    ("--password=PlainFlagPw-1", "PlainFlagPw-1", "--password="),
    ("python app.py --db-password=DashFlagPw-2 --lr 0.1", "DashFlagPw-2", "--lr 0.1"),
    ("run --db-password DashSpacePw-3 --epochs 3", "DashSpacePw-3", "--epochs 3"),
    ("redis://:p@ssword-Redis77@cache.internal:6379/0", "ssword-Redis77", "@cache.internal:6379/0"),
    ("postgresql://svc:Ab/Cd+Ef9931==@db/app", "Ab/Cd+Ef9931==", "postgresql://svc:"),
    ("key sk-proj-AbCdEfGh1234567890ijkl-TailXy9Q", "TailXy9Q", "key "),
    ("key sk-ant-api03-AbCdEfGh1234567890ijklmnop-AntTail9Q", "AntTail9Q", "key "),
    (
        "DefaultEndpointsProtocol=https;AccountName=acct;"
        "AccountKey=AzKey0123456789abcdefABCDEF+/==;EndpointSuffix=core.windows.net",
        "AzKey0123456789",
        "AccountName=acct",
    ),
    (
        "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=SasSig0123456789%2Babc%3D&se=x",
        "SasSig0123456789",
        "sv=2022-11-02",
    ),
    ("stripe sk_live_51StripeLiveKey0123456789", "51StripeLiveKey", "stripe "),
    ("mail SG.SendGridKeyId012345.SendGridSecret0123456789abcdef", "SendGridSecret", "mail "),
    ("maps AIzaSyPlantedGoogleKey0123456789abcdefg", "PlantedGoogleKey", "maps "),
    ("registry npm_PlantedNpmToken0123456789abcdefghijkl", "PlantedNpmToken", "registry "),
    (
        "hook https://hooks.slack.com/services/T0PLANT/B0PLANT/SlackHookSecret0123",
        "SlackHookSecret0123",
        "https://hooks.slack.com/",
    ),
    ("twilio SKfedcba9876543210fedcba9876543210", "fedcba9876543210fedcba9876543210", "twilio "),
    (
        "dsn https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42",
        "0123456789abcdef0123456789abcdef",
        "@o1.ingest.sentry.io/42",
    ),
    ("https://ghp_PlantedUrlUserTok0123456789abcdefgh@github.com/org/x", "PlantedUrlUser", ""),
    ("Authorization: Basic QmFzaWNVc2VyOkJhc2ljUGFzczE=", "QmFzaWNVc2VyOkJhc2ljUGFzczE", ""),
    ("sent header basic QmFzaWNVc2VyOkJhc2ljUGFzczE=", "QmFzaWNVc2VyOkJhc2ljUGFzczE", "sent "),
    ("curl -H 'authorization: bearer lowerBearerTok-77'", "lowerBearerTok-77", "curl -H"),
    ("got bearer lowerBearerTok-78 back", "lowerBearerTok-78", " back"),
    ("machine api.example.com login bot password NetrcPass-42", "NetrcPass-42", "login bot"),
    ("curl -u deploy:CurlUserPw-5 https://x", "CurlUserPw-5", "https://x"),
    ("curl --user deploy:CurlUserPw-6 https://x", "CurlUserPw-6", "https://x"),
    ("PGPASSWORD=PgEnvPass-7 psql -h db", "PgEnvPass-7", "psql -h db"),
    ("MYSQL_PWD=MysqlEnvPw-8 mysql", "MysqlEnvPw-8", " mysql"),
    ("PassWord=MixedCasePw-9", "MixedCasePw-9", "PassWord="),
    ("export API_TOKENS=PluralTok-10", "PluralTok-10", "export"),
    ("pypi pypi-AgEIcHlwaS5vcmcPlantedPypiToken0123", "PlantedPypiToken", "pypi "),
]
