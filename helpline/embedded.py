"""The embedded default in one step: migrate, demo keys and staff, content, then one Daphne process."""

from __future__ import annotations

import os


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpline.settings.dev")
    # Everything this process writes (database, its log, keys, collected files) is this user's only.
    os.umask(0o077)
    from helpline.serve import choose_event_loop

    choose_event_loop()  # before django.setup() imports daphne.server, which makes the loop
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    from helpline.disk_privacy import make_private

    make_private(settings.VAR_DIR)  # an installation from before may have made var/ readable by everyone
    call_command("migrate", verbosity=0, interactive=False)
    # Content-hashed static names (helpline/assets.py); only changed files are copied again, ~0.3 s in all.
    call_command("collectstatic", verbosity=0, interactive=False)
    call_command("demo_setup")
    from helpline import serve

    args = serve.build_parser().parse_args(argv)
    base = f"http://{args.host}:{args.port}"
    print(
        "\n".join(
            [
                "",
                f"Visitor site:   {base}/en/   (Nederlands: {base}/nl/)",
                f"Visitor chat:   {base}/en/help/chat/",
                f"Staff sign-in:  {base}/en/staff/sign-in/",
                "Sign in with a demo account above; for the second step run, in another terminal:",
                "    make code USER=demo-counsellor     (or demo-supervisor, demo-manager, demo-admin)",
                "",
            ]
        ),
        flush=True,
    )
    serve.main(argv)


if __name__ == "__main__":
    main()
