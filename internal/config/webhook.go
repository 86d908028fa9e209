package config

import (
	"errors"
	"flag"
	"time"
)

// WebhookConfig configures bots' webhooks (internal/webhook).
type WebhookConfig struct {
	// AllowInsecureHosts may be http and private or loopback addresses:
	// tests and bots on the operator's own network. Host or host:port.
	AllowInsecureHosts []string
	// Workers bound the bots delivered to at once.
	Workers int
	// Timeout bounds one request to a webhook.
	Timeout time.Duration
	// RetryFor is how long an event is retried before it is parked.
	RetryFor time.Duration
	// Sweep is how often a node looks for undelivered events it was not
	// told of (sent on another node, or before a restart).
	Sweep time.Duration
}

func defaultWebhook() WebhookConfig {
	return WebhookConfig{Workers: 4, Timeout: 10 * time.Second, RetryFor: 24 * time.Hour, Sweep: 5 * time.Second}
}

func registerWebhookFlags(fs *flag.FlagSet, c *WebhookConfig) {
	fs.Var(hostList{&c.AllowInsecureHosts}, "webhook-allow-insecure-host", "comma-separated hosts (or host:port) bots' webhooks may use over http and on private or loopback addresses")
	fs.IntVar(&c.Workers, "webhook-workers", c.Workers, "bots whose webhooks are called at once (each one request at a time, in order)")
	fs.DurationVar(&c.Timeout, "webhook-timeout", c.Timeout, "time allowed for one webhook request")
	fs.DurationVar(&c.RetryFor, "webhook-retry-for", c.RetryFor, "how long an event a webhook refuses is retried (with backoff) before it is parked as failed")
	fs.DurationVar(&c.Sweep, "webhook-sweep", c.Sweep, "how often a node looks for webhook events it was not woken for (sent on another node, before a restart)")
}

func (c WebhookConfig) validate() []error {
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, errors.New("webhook-workers must be at least 1"))
	}
	if c.Timeout < 100*time.Millisecond {
		errs = append(errs, errors.New("webhook-timeout must be at least 100ms"))
	}
	if c.RetryFor < time.Minute {
		errs = append(errs, errors.New("webhook-retry-for must be at least 1m"))
	}
	if c.Sweep < 100*time.Millisecond {
		errs = append(errs, errors.New("webhook-sweep must be at least 100ms"))
	}
	return errs
}
