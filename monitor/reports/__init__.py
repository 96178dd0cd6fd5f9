"""What leaders and the province read: the daily digest mail (日监测) and the 月检查/季通报/年考核 reports.

Pure counting and rendering (digest, period, chart, render) apart from the reads and writes that feed them (job,
fonts); sending is the email channel's (responders/channels/email.py), through the outbox."""
