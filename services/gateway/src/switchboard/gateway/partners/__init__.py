"""Partner webhooks: endpoints per tenant, signed (Standard Webhooks) and retried deliveries."""
