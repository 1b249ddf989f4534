# The Debian package: CPack's DEB generator over the install rules below (scripts/package.sh
# runs it). CPack rather than dpkg-buildpackage: the build is CMake's already, so there is no
# debian/ tree (rules, control, changelog) to keep in step with it; dpkg-shlibdeps still
# computes the library dependencies from the binaries (CPACK_DEBIAN_PACKAGE_SHLIBDEPS).

install(TARGETS overmesh overmeshd RUNTIME DESTINATION bin)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/overmeshd.service DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/overmeshd.conf DESTINATION /etc/overmesh)
install(FILES ${PROJECT_SOURCE_DIR}/docs/install.md ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION share/doc/overmesh)

# Man pages and bash completion come from the built binaries (packaging/make-docs.sh).
find_program(OVERMESH_HELP2MAN help2man)
if(OVERMESH_HELP2MAN)
  set(OVERMESH_DOCS_DIR ${CMAKE_BINARY_DIR}/packaging)
  add_custom_command(
    OUTPUT ${OVERMESH_DOCS_DIR}/overmesh.1.gz ${OVERMESH_DOCS_DIR}/overmeshd.8.gz
           ${OVERMESH_DOCS_DIR}/overmesh.bash-completion
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/make-docs.sh $<TARGET_FILE:overmesh>
            $<TARGET_FILE:overmeshd> ${OVERMESH_DOCS_DIR}
    DEPENDS overmesh overmeshd ${CMAKE_CURRENT_LIST_DIR}/make-docs.sh
            ${CMAKE_CURRENT_LIST_DIR}/overmeshd.h2m
    COMMENT "man pages and bash completion from the binaries")
  add_custom_target(overmesh_docs ALL
    DEPENDS ${OVERMESH_DOCS_DIR}/overmesh.1.gz ${OVERMESH_DOCS_DIR}/overmeshd.8.gz
            ${OVERMESH_DOCS_DIR}/overmesh.bash-completion)
  install(FILES ${OVERMESH_DOCS_DIR}/overmesh.1.gz DESTINATION share/man/man1)
  install(FILES ${OVERMESH_DOCS_DIR}/overmeshd.8.gz DESTINATION share/man/man8)
  install(FILES ${OVERMESH_DOCS_DIR}/overmesh.bash-completion
          DESTINATION share/bash-completion/completions RENAME overmesh)
else()
  message(STATUS "help2man not found: no man pages; scripts/package.sh refuses to package")
endif()

# `cpack` installs what is already built: scripts/package.sh builds the packaged targets,
# not every test binary.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME overmesh)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "multi-host container overlay networks, services and stacks")
# One string: set() would join several with ';'.
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "overmesh runs containers across hosts on VXLAN overlay networks, with services behind a\n"
    "virtual-IP load balancer, embedded DNS, a routing mesh for published ports, and stack\n"
    "deployment from compose files. The package installs the daemon (overmeshd) and its CLI\n"
    "(overmesh) and a systemd unit that it never enables or starts by itself.")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "overmesh developers <overmesh@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# What overmeshd runs besides its libraries: podman (with runc, which it names, and catatonit
# as an image task's init) for image tasks, skopeo for the manager's image digests. nftables
# itself is a library dependency (libnftables1, found by dpkg-shlibdeps); the nft command is
# only recommended, to look at what overmeshd programmed.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "podman, runc, catatonit, skopeo")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nftables, iproute2")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/conffiles ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
    ${CMAKE_CURRENT_LIST_DIR}/debian/prerm ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
