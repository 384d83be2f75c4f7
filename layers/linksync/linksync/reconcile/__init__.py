"""Reconciliation: from what Jira and Zendesk actually hold to the links that should exist.

``job`` runs a resumable job step by step; ``read`` fills its scratch items from the vendors; ``merge``
joins them pair by pair and applies what differs through the same decision as the webhooks; ``plan``
judges one pair (pure); ``store`` keeps the job's checkpoint and scratch in the links table; ``entry`` is
the Lambda function's edge.
"""
