"""Meta's WhatsApp Cloud API: its webhooks (messages and statuses) and its Graph API transport."""
