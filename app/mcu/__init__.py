"""The Cisco TelePresence MCU API 2.9 dialect: ``conference.*`` and ``participant.*`` over XML-RPC, and how it
reads the conference domain's errors as MCU faults."""
