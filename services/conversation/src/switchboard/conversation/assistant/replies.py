"""What the assistant says when it is not the model speaking: fixed, safe and short (one SMS
segment each), so they can be sent when nothing else can."""

SAFE = "Sorry, I can't help with that here. A member of our team will look at this conversation."
UNAVAILABLE = "Sorry, I can't answer right now. A member of our team will get back to you."
HANDOFF = "Thanks, I'm passing you to a member of our team. They'll reply here."
QUOTA = "Sorry, our assistant can't answer messages right now. Our team will get back to you."
RESET = "Done: this is a fresh conversation. What can I do for you?"
