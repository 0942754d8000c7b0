"""The conversation service: contacts, conversations and their transcripts, the AI assistant."""
