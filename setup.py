"""SmallPBX: the firmware of a small-office phone box on a Raspberry Pi."""
from setuptools import find_packages, setup

setup(
    name="smallpbx",
    version="0.1.0",
    description="Phone system for a 1-5 seat shop: SIP, GSM/FXO lines, IVR, queues, recording",
    python_requires=">=3.11",
    packages=find_packages(include=["firmware", "firmware.*", "web", "web.*"]),
    package_data={"firmware.proxy": ["*.tmpl"],
                  "web": ["templates/*.html", "templates/*/*.html", "static/*",
                          "translations/*/LC_MESSAGES/*.po", "babel.cfg"]},
    install_requires=[
        # x86_64 dev/CI: the PyPI wheel (PJSUA_MAX_CALLS=4). The Pi image
        # builds pjproject from source with PBX limits instead (image/).
        "pjsua2-python==2.15.1.post1; platform_machine=='x86_64'",
        "tinydb>=4.8,<5",
        "pyserial>=3.5",
        "flask>=3.1",  # TRUSTED_HOSTS and per-request max_content_length (web/)
        "sounddevice>=0.4",
        # zoneinfo needs a time zone database; a minimal Pi image may lack one.
        "tzdata",
        # Front-panel displays (firmware/hw/display.py, firmware/hw/i2c.py).
        "luma.oled>=3.12",
        "RPLCD>=1.3",
        "smbus2>=0.4",
        "Pillow>=10,<14",  # luma.oled 3.16 calls Image.getdata(), removed in Pillow 14
        # The setup page (web/): translations, CSRF and forms, a production
        # WSGI server, and the QR block a softphone scans.
        "Flask-Babel>=4",
        "Flask-WTF>=1.2",
        "waitress>=3",
        "segno>=1.6",
    ],
    extras_require={
        "pi": ["RPi.GPIO>=0.7; platform_machine=='aarch64' or platform_machine=='armv7l'"],
        "test": ["pytest>=8", "numpy>=1.26", "pytest-timeout>=2.3", "playwright>=1.45"],
    },
    entry_points={"console_scripts": ["smallpbx=firmware.cli:main"]},
)
