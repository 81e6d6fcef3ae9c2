import ArgumentParser

SMTPScope.main()
