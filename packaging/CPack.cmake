# The Debian package: `cpack -G DEB` in a Release build dir (scripts/package.sh does both).
# Included at the end of the top-level CMakeLists.txt, so PROJECT_* and the switchboard target
# are known. The binary's own install rule (bin/switchboard) is in CMakeLists.txt; with the
# DEB generator's prefix /usr it lands in /usr/bin. Everything else the package holds is here.
#
# Absolute destinations (/lib/systemd/system, /etc) are fine for the DEB generator, which
# installs into a staging root; a plain `cmake --install` puts them there too, so use DESTDIR.

set(SB_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

# The systemd unit. Debian 12 ships units in /lib/systemd/system (not /usr/lib/...).
install(FILES ${PROJECT_SOURCE_DIR}/systemd/switchboard.service
        DESTINATION /lib/systemd/system)

# The example config: a dpkg conffile (packaging/conffiles), validates as installed (a
# clearly marked placeholder secret; see its header). postinst makes it root:switchboard 0640.
install(FILES ${SB_PACKAGING_DIR}/switchboard.yaml DESTINATION /etc/switchboard)

# The docs: docs/*.md, docs/channels/*.md and the payload's JSON Schema, plus the README.
# The directory is listed when `cpack`/`cmake --install` runs, so new pages need no change here.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/switchboard)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/switchboard
        FILES_MATCHING PATTERN "*.md" PATTERN "payload.schema.json")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME switchboard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "omnichannel message router (webhooks to RabbitMQ skill queues)")
set(CPACK_PACKAGE_CONTACT "Switchboard maintainers <maintainers@switchboard.invalid>"
    CACHE STRING "Maintainer field of the Debian package")
# The release binary without its symbol table (2.7 MB -> 2.1 MB).
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # switchboard_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Switchboard receives customers' messages from email, web chat, callback requests,\n\
WhatsApp, Messenger, Instagram, Telegram and X as HTTP webhooks, threads them into one\n\
conversation per customer in a local SQLite store, picks a skill with YAML rules and\n\
publishes each message at least once to that skill's RabbitMQ queue.")
# The library packages come from dpkg-shlibdeps (package dpkg-dev) run on the binary. adduser
# is used by postinst; tzdata is read by the schedules (business hours in IANA zones).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, tzdata")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS rabbitmq-server)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${SB_PACKAGING_DIR}/conffiles;${SB_PACKAGING_DIR}/postinst;${SB_PACKAGING_DIR}/prerm;${SB_PACKAGING_DIR}/postrm")
# Modes as Debian policy wants them in control.tar (0755 scripts, 0644 conffiles).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
