"""GitHub's REST API: `api.GitHubApi` is the one client (propose and the webhook use it through views of their own).

Only the default endpoint lives here, so that the CLI can show it without importing requests.
"""

DEFAULT_API_URL = "https://api.github.com"
