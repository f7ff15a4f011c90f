"""The HTTP API: a Flask app factory (`api.app.create_app`) and one blueprint per resource.

Views parse the request, call one unit of work or query in `models`, and render the answer.
Nothing imports this package.
"""
