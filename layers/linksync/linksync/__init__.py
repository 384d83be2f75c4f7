"""zendesk-jira-linksync: keeps Zendesk tickets and Jira issues linked through Zendesk's Jira links API.

The shared Lambda layer: configuration, vendor clients, webhook parsing and signatures, the DynamoDB
ledger, the SQS retry queue, and the sync service that ties them together.
"""

__version__ = "0.1.0"
