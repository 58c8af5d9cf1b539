"""daystosell's scoring service: days to sell for used-car adverts, from an MLeap bundle, with no JVM.

``daystosell_service.app.create_app`` builds the Litestar app; ``python -m daystosell_service`` serves it.
This module imports nothing itself, so that importing ``daystosell_service.mleap`` alone stays cheap.
"""
