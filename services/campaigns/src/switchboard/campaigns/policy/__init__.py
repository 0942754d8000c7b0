"""A tenant's sending policy: when proactive messages may reach a contact (the platform's send
window, narrowed by the tenant's and by their region's), the zone to assume for a contact whose
zone is unknown, and how many messages one contact may get in a period.
"""
