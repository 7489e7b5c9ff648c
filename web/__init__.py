"""The one-tap alert page (`aftercare web`): a physician acknowledges from the phone.

Acts on the clinic's data only through `db.services.Clinic`, as the screens do.
"""
