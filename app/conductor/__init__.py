"""The Cisco TelePresence Conductor dialect of XML-RPC (``factory.*``), served on /RPC2 beside the MCU's."""
