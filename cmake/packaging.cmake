# Installation layout and the Debian package (cpack -G DEB).
include(GNUInstallDirs)

# systemd units, sysusers and tmpfiles entries
install(FILES ${PROJECT_SOURCE_DIR}/systemd/newswired.service
              ${PROJECT_SOURCE_DIR}/systemd/newswired@.service
        DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/newswire.sysusers
        DESTINATION lib/sysusers.d RENAME newswire.conf)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/newswire.tmpfiles
        DESTINATION lib/tmpfiles.d RENAME newswire.conf)

# The sample configuration, with the packaged static files switched on.
file(READ ${PROJECT_SOURCE_DIR}/deploy/newswired.conf NW_CONF)
string(REPLACE "static_dir = \"\"" "static_dir = \"/usr/share/newswire/www\"" NW_CONF "${NW_CONF}")
file(WRITE ${PROJECT_BINARY_DIR}/newswired.conf.packaged "${NW_CONF}")
install(FILES ${PROJECT_BINARY_DIR}/newswired.conf.packaged
        DESTINATION /etc/newswire RENAME newswired.conf)

# Static files of the public listener (widget, client, demo page)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/clients/js/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/newswire/www
        FILES_MATCHING PATTERN "*.js" PATTERN "*.html" PATTERN "*.css"
        PATTERN "tests" EXCLUDE PATTERN "node_modules" EXCLUDE
        PATTERN "test-artifacts" EXCLUDE)

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/proto/PROTOCOL.md
              ${PROJECT_SOURCE_DIR}/deploy/TLS.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_PACKAGE_NAME newswire)
set(CPACK_PACKAGE_VENDOR "Newswire")
set(CPACK_PACKAGE_CONTACT "Newswire maintainers <maintainers@newswire.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Newswire: newswire distribution daemon (ingest, Redis wire, WebSocket gateway)")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# lws loads its libev event loop (gateway_epoll) as a plugin: dlopen()ed,
# so shlibdeps cannot see it
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libwebsockets-evlib-ev")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
