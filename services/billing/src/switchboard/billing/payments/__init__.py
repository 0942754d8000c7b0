"""Payments through Stripe: Checkout, the customer portal, plan changes with proration,
cancellation, invoices, and the webhooks that move subscriptions (payment failure, grace,
suspension, reactivation)."""
